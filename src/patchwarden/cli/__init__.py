"""The `patchwarden` command line: commands that compose the services (`main`), output
formats (`output`, `records`), feed progress bars (`progress`), the REST API client
(`client`) and the local scan (`scan`)."""

from patchwarden.cli.main import main

__all__ = ["main"]
