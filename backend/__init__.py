"""The named person's desk: concerns routed to the right person, worked in a web UI, answered back."""
