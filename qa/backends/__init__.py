"""Where an index lives and how candidates come out of it: a local directory, or a Milvus collection."""
