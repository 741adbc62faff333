"""Running Northstar for a team: secrets, logging, backup/restore and `doctor`."""
