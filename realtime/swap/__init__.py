"""realtime.swap"""
