"""Realtime fan-out for process runs: Channels consumers and a socket.io adapter over one bus."""
