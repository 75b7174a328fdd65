"""The district the app serves: name, codes, bounds, townships and their historical names."""
