"""GraphiQL served from the server itself: no CDN, works offline and behind a firewall."""
