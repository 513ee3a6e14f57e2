"""Control plane: status snapshots over a unix socket (JSON), rendered for humans by the CLI."""
