"""Views, grouped by screen: `api` (the endpoints Zoho calls), `pushes` (the dashboard's push screens).
Each view validates its input with a form, reads through selectors, writes through services, renders."""
