"""`backbone stack`: backbone's deployed topology (docker/compose.yaml) as processes on 127.0.0.1, without Docker.

``services`` is the description of every process (command, environment, health check, what it waits for);
``supervisor`` runs them under supervisord (one log file a process, restarts, a clean shutdown of exactly what it
started); ``lifecycle`` brings them up in dependency order and reports their health.
"""
