"""Pure, cached enrichment of raw events: User-Agent, GeoIP, referrer/UTM and PII redaction."""
