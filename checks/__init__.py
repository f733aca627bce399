"""Built-in checks, one module per resource family. Importing a module registers its checks."""
