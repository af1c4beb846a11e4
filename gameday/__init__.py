"""gameday: GameDay drills for AWS control-plane failures."""

__version__ = "0.1.0"
