"""Model registry: Bi-Real Net, ReActNet and their tiny variants."""
