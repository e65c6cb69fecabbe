"""In-memory data of the analysis: recordings read from NWB, their preparation and splits."""
