"""What to compute, described without computing it.

Variables, contrasts and their arms, comparison and slope rules, transforms.  Imports nothing else
of mixeff.
"""
