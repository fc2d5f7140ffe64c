-- Hydra keeps its state in a database of its own beside the platform's (whose services each own a schema).
CREATE DATABASE hydra OWNER ec;
