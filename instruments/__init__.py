"""steer subpackage."""
