"""Template filters the CRM's and the coach's pages share (`{% load kaopu_text %}`)."""
