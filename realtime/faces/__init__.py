"""realtime.faces"""
