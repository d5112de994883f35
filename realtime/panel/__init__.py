"""The browser control panel over ``realtime.control`` (see ``realtime.panel.server``)."""
