"""Review workstation: the web application staff use every morning."""
