"""Usage analytics: hourly rollups kept by metering, summaries and the LLM efficiency report."""
