"""Socket.IO transport (python-socketio keeps the protocol) over the same routes and hub."""
