"""Free TCP ports on the loopback interface, for the tests' peers."""

from pacsflow.demo.ports import free_port

__all__ = ["free_port"]
