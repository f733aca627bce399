"""Control catalogs as data (one YAML file per framework) and their loader."""
