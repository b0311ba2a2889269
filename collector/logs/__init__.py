"""Access-log import: parsing nginx/Apache/Caddy log lines and streaming them through the pipeline."""
