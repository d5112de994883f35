"""realtime.jobs"""
