"""The engine side of compose: turning a loaded project into containers, networks and
volumes through the Engine facade, and reading them back by Docker Compose's labels."""
