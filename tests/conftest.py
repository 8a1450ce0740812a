# Shared pytest configuration for Reach; fixtures live next to the tests that use them.
