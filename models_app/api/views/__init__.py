"""The REST API's views, one module per resource; ``lookup`` has what they share."""
