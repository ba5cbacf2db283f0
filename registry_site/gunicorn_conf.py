"""gunicorn settings for ``manage.py serve`` (``gunicorn -c python:registry_site.gunicorn_conf``).

Every value comes from the environment; docs/operations.md lists them.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("REGISTRY_BIND", "127.0.0.1:8000")
workers = int(
    os.environ.get("REGISTRY_WEB_CONCURRENCY")
    or os.environ.get("WEB_CONCURRENCY")
    or multiprocessing.cpu_count() * 2 + 1
)
# Threaded workers keep heartbeating while a thread streams a multi-gigabyte upload, so `timeout`
# bounds a stuck worker, not the length of a transfer.
worker_class = "gthread"
# Enough threads that stalled uploads cannot take them all: the application gives request bodies at
# most REGISTRY_BODY_SLOTS of them and a read timeout (registry_site.security.BodySlotsMiddleware).
threads = int(os.environ.get("REGISTRY_WEB_THREADS", "32"))
timeout = int(os.environ.get("REGISTRY_WEB_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("REGISTRY_SHUTDOWN_TIMEOUT", "30"))
keepalive = 5
# Above the application's own header limits (registry_site.security.MAX_HEADER_BYTES), so that an
# oversized header gets the API's 431 in its error shape; only what is far beyond meets gunicorn's.
limit_request_field_size = 16380
limit_request_fields = 200
# Django is imported once in the master and forked: faster start, shared memory pages.
preload_app = True
# Heartbeat files in memory (gunicorn creates them with mkstemp): a slow disk cannot stall the workers.
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108
# The supervisor (manage.py serve) owns the process; several instances on one machine must not share
# gunicorn's default control socket path.
control_socket_disable = True
# The application logs one line per request itself (models_app.ops.middleware), with the request id.
accesslog = None

_format = os.environ.get("REGISTRY_LOG_FORMAT", "json")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "models_app.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if _format == "text" else "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
    "root": {"level": "INFO", "handlers": []},
}


def pre_fork(server, worker):
    """Move what the preloaded application allocated out of the collector's sight before each fork:
    Django's and DRF's import-time objects are never garbage, and scanning them made every full
    collection in a worker a latency spike (and touched, so copied, the pages shared with the master)."""
    gc.freeze()


def child_exit(server, worker):
    """Let the metrics of a finished worker stop counting as a live process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
