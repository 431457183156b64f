"""`paas up`: settings, components, banner and the supervised run of the whole platform."""
