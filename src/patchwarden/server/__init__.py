"""The console: FastAPI app factory, routes, scheduler wiring."""
