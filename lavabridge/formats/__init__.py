"""File formats shared by readers and writers: lava-dl netx semantics, numpy inputs."""
