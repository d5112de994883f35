"""realtime.pipeline"""
