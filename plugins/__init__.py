"""jackfield's built-in provider plugins, one module each, registered by entry point."""
