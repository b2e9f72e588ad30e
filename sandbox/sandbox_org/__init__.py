"""The sandbox org (SPEC §5): a local HTTPS server that speaks the Salesforce REST API subset
conversion-sync uses, with an in-memory org and operator controls. See docs/sandbox.md.

    from sandbox_org import running_sandbox
    with running_sandbox() as sandbox:
        sf = sandbox.salesforce()
"""

from .activity import ActivitySimulator
from .admin_client import SandboxAdminClient
from .errors import SandboxError
from .generator import generate_demo_org
from .org import SandboxOrg
from .testing import Sandbox, running_sandbox

__all__ = ["ActivitySimulator", "Sandbox", "SandboxAdminClient", "SandboxError", "SandboxOrg", "generate_demo_org",
           "running_sandbox"]
