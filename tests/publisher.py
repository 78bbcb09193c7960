"""``python -m tests.publisher KEY COUNT INTERVAL``: publish numbered updates through the API.

Run as its own OS process by live tests (a stand-in for a runner that keeps publishing).
"""

import os
import sys
import time


def main() -> None:
    """Publish COUNT updates for KEY, ``message.n`` = 1..COUNT, INTERVAL seconds apart."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderlines.settings")
    import django

    django.setup()
    from realtime.publish import publish_update

    key, count, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    for n in range(1, count + 1):
        graph = {"nodes": [], "edges": []}
        message = {
            "running_edge": [],
            "task_progress": n % 101,
            "n": n,
            "graph_data": {"graphData": graph},
        }
        publish_update(key, message)
        time.sleep(interval)
    print("published", count, flush=True)


if __name__ == "__main__":
    main()
