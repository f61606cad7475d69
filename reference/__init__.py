"""The architecture as data: the one source of truth the other folders read.

``ARCHITECTURE`` is the diagram (nodes and arrows), ``RESOURCES`` the concrete AWS
resources, ``SERVICES`` the ten microservices. ``check()`` returns every broken
cross-reference between them (an empty list means the model is consistent).
"""

from reference.architecture import ARCHITECTURE
from reference.checks import check
from reference.model import physical_name
from reference.resources import RESOURCES
from reference.services import SERVICES, service

__all__ = ["ARCHITECTURE", "RESOURCES", "SERVICES", "check", "physical_name", "service"]
