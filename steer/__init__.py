"""steer: decides what a scientific instrument observes next."""

__version__ = "0.1.0"

