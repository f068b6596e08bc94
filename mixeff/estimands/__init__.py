"""What to compute, described without computing it: variables, contrasts and their arms,
comparison and slope rules, transforms.  Imports nothing else of mixeff.
"""
