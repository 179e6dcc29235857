"""Sign in with Zoho: django-allauth's Zoho provider, pointed at the configured data centre (allauth's own is fixed
to accounts.zoho.com) and at PUBLIC_BASE_URL for its callback. A person who signs in this way for the first time
gets a user with no role: a finance administrator gives one (CONTRACT §7)."""
