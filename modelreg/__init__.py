"""``modelreg``: the model registry's command-line client; HTTP only, nothing from Django."""
