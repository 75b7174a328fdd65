"""Request and response schemas of the surveys API, one module per resource."""
