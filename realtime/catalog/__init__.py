"""realtime.catalog"""
