"""A local HTTPS Azure for tests: the slice of each API the scanner uses, served from an inventory."""

from tests.azure_fake.faults import Faults
from tests.azure_fake.server import CLIENT_ID, TENANT, AzureFake

__all__ = ["CLIENT_ID", "TENANT", "AzureFake", "Faults"]
