from django.db import models


class Entry(models.Model):
    name = models.CharField(max_length=80)
    message = models.TextField(max_length=2000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ['-created', '-id']

    def __str__(self):
        return '%s: %s' % (self.name, self.message[:40])
