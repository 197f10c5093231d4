"""The public dashboard (`/dashboard/`): the portal's figures for anyone, from daily rollups."""
