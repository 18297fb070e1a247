"""Import paths of the spec's provider classes, served by their plugin distributions."""
