"""Look inside archives and container images: zip, tar, gzip/bzip2/xz, docker save and OCI layouts."""
